import { errorLine } from "./pages/Admin";

test("the line a compiler message points at is found, and none is made up", () => {
  expect(errorLine("broken.rego:3:5: rego_parse_error: unexpected eof")).toBe(3);
  expect(errorLine("Invalid assignment at line 2")).toBe(2);
  expect(errorLine("the policy did not finish within 1s")).toBeNull();
});
