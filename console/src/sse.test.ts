import { SseParser } from "./sse";

test("a message cut anywhere comes out whole, with its id, event and every data line", () => {
  const parser = new SseParser();
  expect(parser.feed("id: 7\nevent: app.sca")).toEqual([]);
  expect(parser.feed('led\ndata: {"a":\ndata: 1}\n\n: keepalive\n\ndata: x\n')).toEqual([
    { id: "7", event: "app.scaled", data: '{"a":\n1}' },
  ]);
  expect(parser.feed("\n")).toEqual([{ id: null, event: "message", data: "x" }]);
});
