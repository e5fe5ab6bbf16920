#!/usr/bin/env bash
# The headless demo story (see run.sh). Usage: demo.sh PATH/TO/tidemark PATH/TO/tidemark-server
set -euo pipefail
TM="$1"
RELAY_BIN="$2"
WORK="$(mktemp -d)"
RELAY_PID=""
cleanup() {
  [ -n "$RELAY_PID" ] && kill -TERM "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
HQ="$WORK/hq"; TT="$WORK/tan-thanh"
hq() { "$TM" --data-dir "$HQ" "$@"; }
tt() { "$TM" --data-dir "$TT" "$@"; }
say() { printf '\n\033[1m▶ %s\033[0m\n' "$*"; }
FIX="$(cd "$(dirname "$0")/.." && pwd)/fixtures/demo.jsonl"

say "Máy chủ trung chuyển (relay) của Bộ Chỉ huy: đơn vị, thiết bị, mã đăng ký một lần"
R="$WORK/relay"
"$RELAY_BIN" --data-dir "$R" unit add "Bộ Chỉ huy BĐBP tỉnh Tiền Giang"
"$RELAY_BIN" --data-dir "$R" unit add "Đồn Biên phòng Tân Thành" --parent "Bộ Chỉ huy BĐBP tỉnh Tiền Giang"
CODE="$("$RELAY_BIN" --data-dir "$R" device enroll --unit "Đồn Biên phòng Tân Thành" --name "máy trực ban" | tail -n 1)"
"$RELAY_BIN" --data-dir "$R" serve --listen 127.0.0.1:0 2> "$WORK/relay.log" &
RELAY_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/relay.log" 2>/dev/null && break; sleep 0.1; done
ADDR="$(grep -o "listening on [0-9.:]*" "$WORK/relay.log" | awk '{print $3}')"
echo "relay: http://$ADDR"
curl -s "http://$ADDR/v1/health"; echo
ACTOR="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN="$(curl -s -X POST "http://$ADDR/v1/enroll" -H 'content-type: application/json' \
  -d "{\"code\":\"$CODE\",\"actor_hex\":\"$ACTOR\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
echo "Đồn Tân Thành đã đăng ký thiết bị (mã thông báo được giữ bí mật, ${#TOKEN} ký tự)"
echo "Không có mã thông báo → $(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/v1/feed?since=0")"
echo "Có mã thông báo → $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$ADDR/v1/feed?since=0")"
"$RELAY_BIN" --data-dir "$R" device list

say "Hai thiết bị: Bộ Chỉ huy (HQ) và Đồn Biên phòng Tân Thành"
hq init --unit "Bộ Chỉ huy BĐBP tỉnh Tiền Giang" --user "Thiếu tá Phạm Quang Huy"
tt init --unit "Đồn Biên phòng Tân Thành" --user "Trung úy Lê Quốc Vũ"

say "HQ nhập dữ liệu kế hoạch, tuần tra, trao đổi thông tin (JSON Lines)"
hq import "$FIX"
hq list --limit 8

say "Chuyển các bản ghi sang máy của Đồn (sau này: đồng bộ qua máy chủ hoặc USB)"
for id in patrol:TT:20250101:01 plan:item:001; do
  hq doc save "$id" --out "$WORK/doc.bin" >/dev/null
  tt doc merge "$id" "$WORK/doc.bin"
done

say "Ngoại tuyến: cả hai cùng sửa một chuyến tuần tra và một nội dung kế hoạch"
hq edit patrol:TT:20250101:01 vessel "Tàu BP-15-01"
hq splice patrol:TT:20250101:01 notes 0 0 "Chỉ huy đã duyệt. "
tt edit patrol:TT:20250101:01 vessel "Xuồng CQ-07"
tt splice patrol:TT:20250101:01 notes 47 0 " Về bến lúc 9 giờ."
hq edit plan:item:001 status "hoàn thành"
tt edit plan:item:001 status "tạm hoãn"

say "Có kết nối lại: hợp nhất theo cả hai chiều"
for id in patrol:TT:20250101:01 plan:item:001; do
  tt doc save "$id" --out "$WORK/doc.bin" >/dev/null; hq doc merge "$id" "$WORK/doc.bin"
  hq doc save "$id" --out "$WORK/doc.bin" >/dev/null; tt doc merge "$id" "$WORK/doc.bin"
done

say "Ghi chú được hợp nhất từng ký tự — không mất chữ nào"
hq show patrol:TT:20250101:01 | grep -E "notes|vessel"

say "Xung đột: cả hai giá trị được giữ, kèm người sửa và thời điểm"
hq conflicts

say "HQ chọn giá trị; xung đột được giải quyết"
hq resolve patrol:TT:20250101:01 vessel "Xuồng CQ-07"
hq resolve plan:item:001 status "hoàn thành"
hq conflicts

say "Lịch sử thay đổi: ai sửa gì, khi nào, cũ → mới"
hq history patrol:TT:20250101:01 | tail -8

say "Tìm kiếm không dấu: \"kieng phuoc\", \"ve ben\""
hq search "kieng phuoc"
hq search "ve ben"

say "Xuất CSV các chuyến tuần tra"
hq export --format csv --type patrol | cut -c1-120
