import { describe, expect, it } from "vitest";
import { fmtBytes, fmtDate, fmtDateTime, fmtNumber, parseDate, parseDateTime } from "../lib/format";

describe("Vietnamese dates", () => {
  it("formats ISO dates and times as dd/MM/yyyy HH:mm in the device zone", () => {
    expect(fmtDate("2025-01-02")).toBe("02/01/2025");
    expect(fmtDateTime("2025-01-01T06:19:00+07:00")).toBe("01/01/2025 06:19");
    expect(fmtDateTime(Date.UTC(2025, 0, 1, 13, 30) / 1000)).toBe("01/01/2025 20:30");
  });
  it("parses what users type back into ISO, refusing impossible dates", () => {
    expect(parseDate("2/1/2025")).toBe("2025-01-02");
    expect(parseDate("29/02/2025")).toBeNull();
    expect(parseDateTime("02/01/2025 05:30")).toBe("2025-01-02T05:30:00+07:00");
    expect(parseDateTime("02/01/2025 24:00")).toBeNull();
  });
  it("groups thousands with dots", () => {
    expect(fmtNumber(50000000)).toBe("50.000.000");
  });
  it("gives file sizes in binary units, with a decimal comma in Vietnamese", () => {
    expect(fmtBytes(512)).toBe("512 B");
    expect(fmtBytes(90_000)).toBe("87,9 KB");
    expect(fmtBytes(1_258_291)).toBe("1,2 MB");
    expect(fmtBytes(1_258_291, "en")).toBe("1.2 MB");
    expect(fmtBytes(64 * 1024 * 1024)).toBe("64 MB");
    expect(fmtBytes(300 * 1024)).toBe("300 KB");
  });
});
