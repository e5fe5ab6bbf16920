import { describe, expect, it } from "vitest";
import {
  SpliceSync,
  applySplice,
  cpLength,
  diffToSplice,
  rebaseSelection,
  toCodePoints,
  toUtf16,
  transformCaret,
  type Splice,
} from "../../src/screens/plan/textsync";

describe("code points vs UTF-16", () => {
  it("counts Vietnamese letters as one character each (NFC)", () => {
    expect(cpLength("Tuần tra biển")).toBe(13);
    expect(cpLength("Đồn Biên phòng")).toBe(14);
  });
  it("converts indices around astral characters", () => {
    const s = "a🚢ữb"; // 🚢 is two UTF-16 units
    expect(s.length).toBe(5);
    expect(cpLength(s)).toBe(4);
    expect(toCodePoints(s, 3)).toBe(2);
    expect(toCodePoints(s, 4)).toBe(3);
    expect(toUtf16(s, 2)).toBe(3);
    expect(toUtf16(s, 99)).toBe(5);
  });
});

describe("diffToSplice", () => {
  it("typing a Vietnamese word in the middle", () => {
    const old = "Tuần tra biển.";
    const nu = "Tuần tra chung biển.";
    expect(diffToSplice(old, nu, toCodePoints(nu, 15))).toEqual({ pos: 9, del: 0, text: "chung " });
  });

  it("positions are code points after astral characters", () => {
    const old = "🚢 Tàu cá";
    const nu = "🚢 Tàu cá TG-93096-TS";
    const sp = diffToSplice(old, nu, toCodePoints(nu, nu.length))!;
    expect(sp).toEqual({ pos: 8, del: 0, text: " TG-93096-TS" });
    expect(applySplice(old, sp)).toBe(nu);
  });

  it("Telex replaces a letter by its accented form (a → ầ) as a one-character replace", () => {
    const old = "Tuan";
    const nu = "Tuần";
    expect(diffToSplice(old, nu, 4)).toEqual({ pos: 2, del: 1, text: "ầ" });
  });

  it("deleting a selection", () => {
    const old = "Nội dung phối hợp, biện pháp";
    const nu = "Nội dung, biện pháp";
    expect(diffToSplice(old, nu, 8)).toEqual({ pos: 8, del: 9, text: "" });
  });

  it("uses the caret to place an insertion in repeated letters", () => {
    // caret after the inserted "ư" at index 2 of "ưưư"
    expect(diffToSplice("ưư", "ưưư", 1)).toEqual({ pos: 0, del: 0, text: "ư" });
    expect(diffToSplice("ưư", "ưưư", 3)).toEqual({ pos: 2, del: 0, text: "ư" });
    expect(diffToSplice("ưư", "ưưư")).toEqual({ pos: 2, del: 0, text: "ư" });
  });

  it("null when unchanged; round-trips through applySplice", () => {
    expect(diffToSplice("Đã nhận", "Đã nhận")).toBeNull();
    const pairs = [
      ["", "Hội nghị sơ kết"],
      ["Hội nghị sơ kết", ""],
      ["Khám chữa bệnh", "Khám bệnh, cấp thuốc"],
      ["ngư dân ra khơi", "ngư dân đã ra khơi an toàn"],
    ];
    for (const [a, b] of pairs) expect(applySplice(a, diffToSplice(a, b)!)).toBe(b);
  });
});

describe("transformCaret", () => {
  const ins = (pos: number, text: string): Splice => ({ pos, del: 0, text });
  it("shifts when the remote change is before the caret", () => {
    expect(transformCaret(10, ins(3, "đồn "))).toBe(14);
    expect(transformCaret(10, { pos: 2, del: 5, text: "" })).toBe(5);
    expect(transformCaret(10, { pos: 2, del: 3, text: "Biên phòng" })).toBe(17);
  });
  it("stays when the remote change is at or after the caret", () => {
    expect(transformCaret(4, ins(4, "ữ"))).toBe(4);
    expect(transformCaret(4, { pos: 6, del: 3, text: "ư" })).toBe(4);
  });
  it("stays inside the new text when the change surrounds it", () => {
    expect(transformCaret(5, { pos: 3, del: 4, text: "ừ" })).toBe(3);
    expect(transformCaret(5, { pos: 3, del: 3, text: "ừng" })).toBe(5);
    expect(transformCaret(5, { pos: 3, del: 4, text: "" })).toBe(3);
  });
});

describe("rebaseSelection (remote text under a local caret)", () => {
  it("keeps the caret after the same Vietnamese word when another unit writes before it", () => {
    const local = "Tuần tra chung, trao đổi thông tin.";
    const caret16 = local.indexOf(", trao"); // after "chung"
    const remote = "Tăng cường tuần tra chung, trao đổi thông tin.";
    const sel = rebaseSelection(local, remote, { start: caret16, end: caret16 });
    expect(remote.slice(0, sel.start).endsWith("chung")).toBe(true);
    expect(sel.start).toBe(remote.indexOf(", trao"));
  });

  it("counts an astral character before the caret correctly", () => {
    const local = "ngư dân";
    const remote = "🚢 ngư dân";
    const sel = rebaseSelection(local, remote, { start: 3, end: 7 });
    expect(remote.slice(sel.start, sel.end)).toBe(" dân");
  });

  it("leaves the caret when the remote change is after it", () => {
    const local = "Hội nghị";
    const remote = "Hội nghị tổng kết";
    expect(rebaseSelection(local, remote, { start: 3, end: 3 })).toEqual({ start: 3, end: 3 });
  });
});

describe("SpliceSync", () => {
  function area(value: string) {
    return {
      value,
      selectionStart: value.length as number | null,
      selectionEnd: value.length as number | null,
      setSelectionRange(s: number, e: number) {
        this.selectionStart = s;
        this.selectionEnd = e;
      },
    };
  }

  it("sends one splice per input in order and merges remote text under the caret", async () => {
    const sent: Splice[] = [];
    const sync = new SpliceSync("Tuần tra", async (sp) => {
      sent.push(sp);
    });
    const el = area("Tuần tra");
    el.value = "Tuần tra biển";
    el.selectionStart = el.selectionEnd = el.value.length;
    sync.input(el);
    el.value = "Tuần tra biển đảo";
    el.selectionStart = el.selectionEnd = el.value.length;
    sync.input(el);
    await sync.drained();
    expect(sent).toEqual([
      { pos: 8, del: 0, text: " biển" },
      { pos: 13, del: 0, text: " đảo" },
    ]);
    expect(sync.version).toBe(2);

    // another unit inserted at the start; the caret stays at the end of the local text
    el.selectionStart = el.selectionEnd = 4; // after "Tuần"
    sync.applyRemote(el, "Kế hoạch: Tuần tra biển đảo");
    expect(el.value).toBe("Kế hoạch: Tuần tra biển đảo");
    expect(el.value.slice(0, el.selectionStart!)).toBe("Kế hoạch: Tuần");
    expect(sync.known).toBe(el.value);
  });
});
