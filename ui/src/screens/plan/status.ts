// Plan item statuses: the stored codes, their labels, and the derived "overdue" (quá hạn).

export const STATUS_CODES = ["new", "in_progress", "done", "postponed", "cancelled"] as const;
export type StatusCode = (typeof STATUS_CODES)[number];

const VI: Record<StatusCode, string> = {
  new: "mới",
  in_progress: "đang thực hiện",
  done: "hoàn thành",
  postponed: "tạm hoãn",
  cancelled: "hủy",
};

/** A stored status (a code, or a Vietnamese label from an import) → its code. */
export function statusCode(s: unknown): StatusCode {
  const v = String(s ?? "")
    .trim()
    .toLowerCase()
    .normalize("NFC");
  if ((STATUS_CODES as readonly string[]).includes(v)) return v as StatusCode;
  const fold = (x: string) =>
    x
      .normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/đ/g, "d")
      .replace(/\s+/g, " ");
  for (const c of STATUS_CODES) if (fold(VI[c]) === fold(v) || fold(c.replace("_", " ")) === fold(v)) return c;
  return "new";
}

/** Overdue: the deadline is before today and the item is neither done nor cancelled. */
export function isOverdue(deadline: string | null | undefined, status: StatusCode, today: string): boolean {
  if (!deadline || status === "done" || status === "cancelled") return false;
  return deadline.slice(0, 10) < today;
}
