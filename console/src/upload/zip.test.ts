import { strToU8, zipSync } from "fflate";
import { zipProject } from "./zip";

test("a repository's zip is the project under the folder its entries share", async () => {
  const data = zipSync({ "shop-main/compose.yaml": strToU8("services: {}\n"), "shop-main/web/Dockerfile": strToU8("FROM x\n") });
  const { folder, files } = zipProject(data, "download.zip");
  expect(folder).toBe("shop-main");
  expect(files.map((f) => f.path).sort()).toEqual(["compose.yaml", "web/Dockerfile"]);
  expect(new TextDecoder().decode(await files.find((f) => f.path === "web/Dockerfile")!.read())).toBe("FROM x\n");
  const flat = zipProject(zipSync({ "compose.yaml": strToU8("services: {}\n") }), "shop.zip");
  expect(flat.folder).toBe("shop");
});

test("a hostile zip is refused: entries outside the project, or too much to unpack", () => {
  const escaping = zipSync({ "../../etc/cron.d/x": strToU8("* * * * * root sh\n"), "compose.yaml": strToU8("") });
  expect(() => zipProject(escaping, "evil.zip")).toThrow(/leads outside the project/);
  const bomb = zipSync({ "big.bin": new Uint8Array(4 * 1024 * 1024) }, { level: 9 });
  expect(bomb.length).toBeLessThan(64 * 1024);
  expect(() => zipProject(bomb, "bomb.zip", { bytes: 1024 * 1024, files: 10 })).toThrow(/unpacks to more than 1 MB/);
  const many = zipSync(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}`, strToU8("x")])));
  expect(() => zipProject(many, "many.zip", { bytes: 1024 * 1024, files: 10 })).toThrow(/more than 10 files/);
});
