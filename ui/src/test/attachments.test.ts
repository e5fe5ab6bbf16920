import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import RecordScreen from "../screens/record/RecordScreen.svelte";
import SyncBar from "../lib/SyncBar.svelte";
import { lang } from "../lib/i18n";
import { appInfo } from "../lib/stores";
import type { AttachmentRow } from "../lib/api";
import { callsOf, fail, fakeBackend, info, type Handler } from "./backend";

const h = (c: string) => c.repeat(64);
const PHOTO = h("a");
const PHOTO_THUMB = h("b");
const PDF = h("c");
const FAR = h("d");
const FAR_THUMB = h("e");

const id = "patrol:TT:20250301:02";
const record = {
  type: "patrol",
  id,
  station: "Đồn Biên phòng Tân Thành",
  start: "2025-03-01T05:00:00+07:00",
  vessel: "Xuồng CQ-05",
  attachments: [{ hash: PHOTO, name: "ảnh tàu cá.png", mime: "image/png", size: 1_258_291, thumb: PHOTO_THUMB }],
  vessels_inspected: [
    {
      registration: "TG-90123-TS",
      result: "Không vi phạm",
      attachments: [{ hash: FAR, name: "giấy phép khai thác.jpg", mime: "image/jpeg", size: 348_160, thumb: FAR_THUMB }],
    },
  ],
  violations: [
    {
      registration: "TG-93096-TS",
      violation: "Sử dụng ngư cụ cấm",
      attachments: [{ hash: PDF, name: "biên bản vi phạm.pdf", mime: "application/pdf", size: 90_000 }],
    },
  ],
};
const view = {
  record,
  conflicts: [],
  track_points: 0,
  changes: 3,
  delivery: { stage: "saved_here", enrolled: true, units: [] },
  track: [],
};

const row = (over: Partial<AttachmentRow>): AttachmentRow => ({
  record_id: id,
  place: "attachments",
  hash: PHOTO,
  thumb: null,
  name: "",
  mime: "application/octet-stream",
  size: 0,
  present: true,
  thumb_present: false,
  ...over,
});

/** The photo here with its thumbnail; a photo of an inspection whose thumbnail came ahead of
 * it; a PDF of a violation that has not arrived. */
const rows = (pdfHere = false): AttachmentRow[] => [
  row({ hash: PHOTO, thumb: PHOTO_THUMB, name: "ảnh tàu cá.png", mime: "image/png", size: 1_258_291, thumb_present: true }),
  row({
    place: "vessels_inspected[0].attachments",
    hash: FAR,
    thumb: FAR_THUMB,
    name: "giấy phép khai thác.jpg",
    mime: "image/jpeg",
    size: 348_160,
    present: false,
    thumb_present: true,
  }),
  row({ place: "violations[0].attachments", hash: PDF, name: "biên bản vi phạm.pdf", mime: "application/pdf", size: 90_000, present: pdfHere }),
];

const url = (hash: string) => `data:image/jpeg;base64,${hash.slice(0, 8)}`;

function backend(over: Record<string, Handler> = {}) {
  return fakeBackend({
    get_record: () => view,
    attachments: () => rows(),
    attachment_data: (a) => ([PHOTO, PHOTO_THUMB, FAR_THUMB].includes(a.hash as string) ? url(a.hash as string) : null),
    ...over,
  });
}

const card = (hash: string) => screen.getAllByTestId("att-card").find((c) => c.dataset.hash === hash)!;

async function page() {
  render(RecordScreen, { id });
  await waitFor(() => expect(screen.getAllByTestId("att-card")).toHaveLength(3));
}

/** Chooses files in the add control (happy-dom cannot set `files` itself). */
async function choose(files: File[]) {
  const input = screen.getByTestId("att-file") as HTMLInputElement;
  Object.defineProperty(input, "files", { value: files, configurable: true });
  await fireEvent.change(input);
}

describe("attachments on the record page", () => {
  it("shows each file with its thumbnail or a placeholder, name, size and whether it is here", async () => {
    backend();
    await page();
    const groups = screen.getAllByTestId("att-group").map((g) => g.textContent);
    expect(groups).toEqual(["Cả chuyến tuần tra", "Kiểm tra 1 · TG-90123-TS", "Vi phạm 1 · TG-93096-TS"]);

    const photo = card(PHOTO);
    await waitFor(() => expect(within(photo).getByTestId("att-thumb").getAttribute("src")).toBe(url(PHOTO_THUMB)));
    expect(within(photo).getByTestId("att-name").textContent).toBe("ảnh tàu cá.png");
    expect(within(photo).getByTestId("att-size").textContent).toBe("1,2 MB");
    expect(within(photo).queryByTestId("att-badge")).toBeNull();

    const far = card(FAR);
    expect(within(far).getByTestId("att-badge").textContent?.trim()).toBe("chỉ có ảnh thu nhỏ");
    await waitFor(() => expect(within(far).getByTestId("att-thumb").getAttribute("src")).toBe(url(FAR_THUMB)));
    expect((within(far).getByTestId("att-open") as HTMLButtonElement).disabled).toBe(true);

    const pdf = card(PDF);
    expect(within(pdf).getByTestId("att-badge").textContent?.trim()).toBe("chưa về");
    expect(within(pdf).getByTestId("att-placeholder").textContent).toContain("PDF");
    expect(within(pdf).getByTestId("att-size").textContent).toBe("87,9 KB");
    expect(within(pdf).queryByTestId("att-preview")).toBeNull();
    expect((within(pdf).getByTestId("att-save") as HTMLButtonElement).disabled).toBe(true);

    // The references themselves are not shown among the fields.
    expect(screen.queryByTestId("field-attachments")).toBeNull();
    expect(screen.getByTestId("field-violations").textContent).not.toContain(PDF);
  });

  it("reads in English too", async () => {
    lang.set("en");
    backend();
    await page();
    expect(within(card(PDF)).getByTestId("att-badge").textContent?.trim()).toBe("not here yet");
    expect(within(card(FAR)).getByTestId("att-badge").textContent?.trim()).toBe("thumbnail only");
    expect(within(card(PHOTO)).getByTestId("att-size").textContent).toBe("1.2 MB");
    expect(screen.getByRole("heading", { name: /Attachments/ })).toBeTruthy();
  });

  it("adds the chosen files, one by one, where the user says: here a violation", async () => {
    let added = false;
    const calls = backend({
      attachments: () => (added ? [...rows(), row({ place: "violations[0].attachments", hash: h("f"), name: "ảnh tàu cá.png", mime: "image/png", size: 4 })] : rows()),
      attach_file: () => {
        added = true;
        return { attachment: { hash: h("f"), name: "ảnh tàu cá.png", mime: "image/png", size: 4 }, added: true, deduplicated: false, thumb_bytes: 900 };
      },
    });
    await page();
    const place = screen.getByTestId("att-place") as HTMLSelectElement;
    expect([...place.options].map((o) => o.textContent)).toEqual([
      "Cả chuyến tuần tra",
      "Kiểm tra 1 · TG-90123-TS",
      "Vi phạm 1 · TG-93096-TS",
    ]);
    [...place.options].find((o) => o.value === "violations[0].attachments")!.selected = true;
    await fireEvent.change(place);
    await choose([
      new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], "ảnh tàu cá.png", { type: "image/png" }),
      new File(["Biên bản"], "biên bản.txt", { type: "text/plain" }),
    ]);
    await waitFor(() => expect(callsOf(calls, "attach_file")).toHaveLength(2));
    const [first, second] = callsOf(calls, "attach_file");
    expect(decodeURIComponent(first.headers["tidemark-id"])).toBe(id);
    expect(JSON.parse(decodeURIComponent(first.headers["tidemark-place"]))).toEqual({ on: "violation", index: 0 });
    expect(decodeURIComponent(first.headers["tidemark-name"])).toBe("ảnh tàu cá.png");
    // The bytes go as the raw body, not as JSON.
    expect(first.args).toBeInstanceOf(Uint8Array);
    expect([...(first.args as unknown as Uint8Array)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(decodeURIComponent(second.headers["tidemark-name"])).toBe("biên bản.txt");
    expect(new TextDecoder().decode(second.args as unknown as Uint8Array)).toBe("Biên bản");

    await waitFor(() => expect(screen.getAllByTestId("att-upload").map((u) => u.dataset.state)).toEqual(["done", "done"]));
    expect(screen.getAllByTestId("att-upload")[0].textContent).toContain("Đã đính kèm");
    await waitFor(() => expect(screen.getAllByTestId("att-card")).toHaveLength(4));
  });

  it("attaches to the record itself by default, and to records of other kinds", async () => {
    const exchange = { type: "info_exchange", id: "exchange:TT:20250301:01", from_unit: "Đồn Biên phòng Tân Thành", subject: "Tàu lạ" };
    const calls = fakeBackend({
      get_record: () => ({ ...view, record: exchange }),
      attachments: () => [],
      attach_file: () => ({ attachment: { hash: PHOTO, name: "x.jpg", mime: "image/jpeg", size: 1 }, added: true, deduplicated: false, thumb_bytes: null }),
    });
    render(RecordScreen, { id: exchange.id });
    await screen.findByTestId("att-empty");
    expect(screen.queryByTestId("att-place")).toBeNull();
    await choose([new File(["x"], "x.jpg")]);
    await waitFor(() => expect(callsOf(calls, "attach_file")).toHaveLength(1));
    const c = callsOf(calls, "attach_file")[0];
    expect(JSON.parse(decodeURIComponent(c.headers["tidemark-place"]))).toEqual({ on: "record" });
    expect(decodeURIComponent(c.headers["tidemark-id"])).toBe(exchange.id);
  });

  it("has no attachments section for kinds that take no files", async () => {
    fakeBackend({
      get_record: () => ({ ...view, record: { type: "review_meeting", id: "meeting:2025:q1", title: "Sơ kết quý I" } }),
    });
    render(RecordScreen, { id: "meeting:2025:q1" });
    await screen.findByTestId("tab-fields");
    expect(screen.queryByTestId("att-section")).toBeNull();
  });

  it("refuses a file over 64 MB before reading it, and shows the command's errors", async () => {
    const calls = backend({
      attach_file: fail({ kind: "user", message: "Tuần tra không có vi phạm thứ 2 (chỉ có 1). (the patrol has no violations[1] (it has 1).)" }),
    });
    await page();
    const big = new File(["x"], "video tuần tra.mp4", { type: "video/mp4" });
    Object.defineProperty(big, "size", { value: 70 * 1024 * 1024 });
    await choose([big, new File(["x"], "ảnh.jpg")]);
    await waitFor(() => expect(screen.getAllByTestId("att-upload").map((u) => u.dataset.state)).toEqual(["error", "error"]));
    const [tooBig, refused] = screen.getAllByTestId("att-upload");
    expect(tooBig.textContent).toContain("Tệp nặng 70 MB, tệp đính kèm tối đa 64 MB.");
    expect(refused.textContent).toContain("Tuần tra không có vi phạm thứ 2");
    expect(callsOf(calls, "attach_file")).toHaveLength(1);
  });

  it("words the shell's too-large refusal in the user's language", async () => {
    lang.set("en");
    backend({ attach_file: fail({ kind: "too_large", message: "Tệp nặng 65 MB… (The file is 65 MB…)" }) });
    await page();
    await choose([new File(["x"], "ảnh.jpg")]);
    await waitFor(() => expect(screen.getByTestId("att-upload").dataset.state).toBe("error"));
    expect(screen.getByTestId("att-upload").textContent).toContain("The file is too large: the largest attachment is 64 MB.");
  });

  it("previews the full image when it is here, else the thumbnail, and closes", async () => {
    const calls = backend({
      attachment_data: (a) => (a.hash === PHOTO ? "data:image/png;base64,FULL" : url(a.hash as string)),
    });
    await page();
    await fireEvent.click(within(card(PHOTO)).getByTestId("att-preview"));
    const dialog = await screen.findByTestId("att-dialog");
    await waitFor(() => expect(within(dialog).getByTestId("att-dialog-img").getAttribute("src")).toBe("data:image/png;base64,FULL"));
    expect(callsOf(calls, "attachment_data").some((c) => c.args.hash === PHOTO)).toBe(true);
    expect(within(dialog).queryByTestId("att-dialog-note")).toBeNull();
    await fireEvent.click(screen.getByTestId("att-dialog-close"));
    expect(screen.queryByTestId("att-dialog")).toBeNull();

    await fireEvent.click(within(card(FAR)).getByTestId("att-preview"));
    const thumbOnly = await screen.findByTestId("att-dialog");
    await waitFor(() => expect(within(thumbOnly).getByTestId("att-dialog-img").getAttribute("src")).toBe(url(FAR_THUMB)));
    expect(within(thumbOnly).getByTestId("att-dialog-note").textContent).toBe("Đang hiển thị ảnh thu nhỏ: tệp gốc chưa về máy này.");
    // The full file is never asked for: it is not here.
    expect(callsOf(calls, "attachment_data").some((c) => c.args.hash === FAR)).toBe(false);
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByTestId("att-dialog")).toBeNull();
  });

  it("opens with the system's application and saves a copy, showing where", async () => {
    const calls = backend({
      save_attachment: () => ({ path: "/home/hai/Tải về/ảnh tàu cá.png", bytes: 1_258_291 }),
      open_attachment: () => ({ path: "/data/opened/aaaaaaaaaaaa.png" }),
    });
    await page();
    await fireEvent.click(within(card(PHOTO)).getByTestId("att-save"));
    await waitFor(() => expect(callsOf(calls, "save_attachment")[0]?.args).toEqual({ hash: PHOTO, name: "ảnh tàu cá.png" }));
    expect((await screen.findByTestId("att-message")).textContent).toBe("Đã lưu bản sao: /home/hai/Tải về/ảnh tàu cá.png");
    await fireEvent.click(within(card(PHOTO)).getByTestId("att-open"));
    await waitFor(() => expect(callsOf(calls, "open_attachment")[0]?.args).toEqual({ hash: PHOTO }));
    await waitFor(() => expect(screen.getByTestId("att-message").textContent).toBe("Đã mở “ảnh tàu cá.png” bằng ứng dụng của máy."));
  });

  it("shows why a save or open failed", async () => {
    backend({
      save_attachment: fail({ kind: "not_here", message: "Tệp chưa về máy này… (The file is not on this device yet…)" }),
      open_attachment: fail({ kind: "user", message: "Không mở được tệp bằng ứng dụng của hệ thống. (No application opened the file.)" }),
    });
    await page();
    await fireEvent.click(within(card(PHOTO)).getByTestId("att-save"));
    expect((await screen.findByTestId("att-error")).textContent).toBe("Tệp chưa về máy này; đồng bộ sẽ mang tệp về.");
    await fireEvent.click(within(card(PHOTO)).getByTestId("att-open"));
    await waitFor(() => expect(screen.getByTestId("att-error").textContent).toContain("Không mở được tệp"));
  });

  it("shows files that sync brings: after a download of one of them, and when the record changes", async () => {
    let pdfHere = false;
    const calls = backend({ attachments: () => rows(pdfHere) });
    await page();
    expect(within(card(PDF)).getByTestId("att-badge")).toBeTruthy();
    const before = callsOf(calls, "attachments").length;

    pdfHere = true;
    const moving = { state: "transferring", direction: "down", hash: PDF, thumb: false, file: 1, files: 1, total: 90_000 };
    await emit("sync-status", { ...moving, done: 0 });
    await emit("sync-status", { ...moving, done: 90_000 });
    expect(callsOf(calls, "attachments")).toHaveLength(before);
    await emit("sync-status", { state: "up_to_date", at: 1740790000, pending: 0, wire: { bytes_up: 0, bytes_down: 90_000, requests: 3 }, changed: [] });
    await waitFor(() => expect(within(card(PDF)).queryByTestId("att-badge")).toBeNull());
    expect(card(PDF).dataset.present).toBe("true");

    // Someone else's file on this record: the record changes, the list is read again.
    const n = callsOf(calls, "attachments").length;
    await emit("records-changed", [id]);
    await waitFor(() => expect(callsOf(calls, "attachments").length).toBeGreaterThan(n));
    const m = callsOf(calls, "attachments").length;
    await emit("records-changed", ["patrol:KP:20250301:01"]);
    await new Promise((r) => setTimeout(r, 20));
    expect(callsOf(calls, "attachments")).toHaveLength(m);
  });
});

describe("sync bar while files move", () => {
  it("says which file of how many is going which way, and how far", async () => {
    appInfo.set(info());
    fakeBackend({});
    render(SyncBar);
    const label = () => screen.getByTestId("sync-label").textContent;
    const base = { hash: PHOTO, file: 2, files: 5 };
    await emit("sync-status", { state: "transferring", direction: "up", thumb: true, done: 8_000, total: 20_000, ...base });
    await waitFor(() => expect(label()).toBe("Đang gửi ảnh thu nhỏ 2/5 · 40%"));
    expect(screen.getByTestId("sync-bar").dataset.state).toBe("transferring");
    await emit("sync-status", { state: "transferring", direction: "up", thumb: false, done: 1, total: 2, ...base });
    await waitFor(() => expect(label()).toBe("Đang gửi tệp 2/5 · 50%"));
    await emit("sync-status", { state: "transferring", direction: "down", thumb: true, done: 0, total: 0, hash: PDF, file: 1, files: 3 });
    await waitFor(() => expect(label()).toBe("Đang nhận ảnh thu nhỏ 1/3 · 0%"));
    await emit("sync-status", { state: "transferring", direction: "down", thumb: false, done: 786_432, total: 1_048_576, hash: PDF, file: 1, files: 3 });
    await waitFor(() => expect(label()).toBe("Đang nhận tệp 1/3 · 75%"));
    lang.set("en");
    await waitFor(() => expect(label()).toBe("Receiving file 1/3 · 75%"));
  });
});
