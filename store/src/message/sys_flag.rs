//! `MessageSysFlag` bits (remoting-protocol.md §6.1). Only the bits the store reads are named.

pub const COMPRESSED_FLAG: i32 = 1;
pub const MULTI_TAGS_FLAG: i32 = 1 << 1;
pub const TRANSACTION_NOT_TYPE: i32 = 0;
pub const TRANSACTION_PREPARED_TYPE: i32 = 1 << 2;
pub const TRANSACTION_COMMIT_TYPE: i32 = 2 << 2;
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 3 << 2;
const TRANSACTION_TYPE_MASK: i32 = 3 << 2;
pub const BORNHOST_V6_FLAG: i32 = 1 << 4;
pub const STOREHOSTADDRESS_V6_FLAG: i32 = 1 << 5;

pub fn transaction_type(sys_flag: i32) -> i32 {
    sys_flag & TRANSACTION_TYPE_MASK
}

/// PREPARED and ROLLBACK records get no ConsumeQueue unit and queue offset 0
/// (store-format.md §2.1): consumers must never see a half or rolled-back message.
pub fn is_consumable(sys_flag: i32) -> bool {
    matches!(
        transaction_type(sys_flag),
        TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE
    )
}

/// Every type but ROLLBACK is indexed, so `queryMsgByKey` can still find half messages.
pub fn is_indexed(sys_flag: i32) -> bool {
    transaction_type(sys_flag) != TRANSACTION_ROLLBACK_TYPE
}
