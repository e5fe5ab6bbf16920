//! Shared fixtures for the domain tests: Vietnamese records and commit metadata.
#![allow(dead_code, missing_docs)]

use automerge::ActorId;
use tidemark_domain::{interchange, CommitMeta, Record};

pub fn meta(user: &str, unit: &str, device: &str, time: i64) -> CommitMeta {
    CommitMeta {
        time,
        user: user.into(),
        unit: unit.into(),
        device: device.into(),
        op: String::new(),
    }
}

pub fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

pub fn patrol() -> Record {
    interchange::parse_line(
        r#"{"type":"patrol","id":"patrol:TT:20250101:01","station":"Đồn Biên phòng Tân Thành","station_code":"TT","start":"2025-01-01T06:19:00+07:00","end":"2025-01-01T09:06:01+07:00","vessel":"Xuồng CQ-02","commander":"Trung úy Lê Quốc Vũ","crew":["Đại úy Hoàng Công Long"],"joint_forces":["Công an xã Kiểng Phước"],"route":[[10.284187,106.778869,1735687181],[10.284426,106.779617,1735687229]],"vessels_inspected":[{"registration":"TG-93096-TS","owner":"Đỗ Hoàng Dũng","captain":"Nguyễn Ngọc Tuấn","crew_count":10,"catch":"57 kg cá khoai","position":[10.286066,106.806022],"result":"Giấy tờ đầy đủ, hợp lệ"}],"violations":[{"registration":"TG-93628-TS","violation":"Sử dụng ngư cụ cấm (lưới cào điện)","action":"Nhắc nhở, yêu cầu khắc phục","fine_vnd":50000000}],"notes":"Thời tiết trời quang, gió cấp 4, biển động nhẹ."}"#,
    )
    .expect("fixture parses")
    .record
}

pub fn plan_item() -> Record {
    interchange::parse_line(
        r#"{"type":"plan_item","id":"plan:shared:001","plan":"plan:2023-2024","title":"Bảo đảm an ninh vùng nuôi nghêu","content":"Tổ chức lực lượng tuần tra, kiểm soát vùng nuôi nghêu.","responsible_unit":"Đồn Biên phòng Vàm Láng","supporting_units":["Huyện ủy Gò Công Đông"],"deadline":"2025-06-16","status":"đang thực hiện"}"#,
    )
    .expect("fixture parses")
    .record
}
