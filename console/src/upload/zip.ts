// A project sent as a .zip (what a download of a repository gives): its entries as the project's
// files, under the folder they all share (stripped), refusing what a hostile archive may hold.

import { unzipSync } from "fflate";
import { cleanPath, type ProjectFile } from "./project";

// The most a zip may unpack to in the browser (CRANE's own limits on contexts apply after).
export const ZIP_LIMITS = { bytes: 256 * 1024 * 1024, files: 20_000 };

export function zipProject(data: Uint8Array, filename: string, limits = ZIP_LIMITS): { folder: string; files: ProjectFile[] } {
  let bytes = 0;
  let count = 0;
  const entries = unzipSync(data, {
    filter: (file) => {
      if (file.name.endsWith("/")) return false; // folders: their files say it
      count += 1;
      bytes += file.originalSize;
      if (count > limits.files) throw new Error(`${filename}: more than ${limits.files} files`);
      if (bytes > limits.bytes) throw new Error(`${filename}: unpacks to more than ${limits.bytes / 1024 / 1024} MB`);
      return true;
    },
  });
  const paths = Object.keys(entries).map((raw) => {
    const path = cleanPath(raw.replaceAll("\\", "/"));
    if (raw.startsWith("/") || path === ".." || path.startsWith("../") || path === "") {
      throw new Error(`${filename}: the entry ${JSON.stringify(raw)} leads outside the project`);
    }
    return [raw, path] as const;
  });
  const tops = new Set(paths.map(([, path]) => path.split("/")[0]));
  const shared = tops.size === 1 && paths.every(([, path]) => path.includes("/")) ? [...tops][0] : null;
  const files: ProjectFile[] = paths.map(([raw, path]) => ({
    path: shared ? path.slice(shared.length + 1) : path,
    read: async () => entries[raw],
  }));
  return { folder: shared ?? filename.replace(/\.zip$/i, ""), files };
}
