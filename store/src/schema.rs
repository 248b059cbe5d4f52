// The tables of migrations/, for diesel's query builder. Kept by hand in step with the SQL.

diesel::table! {
    sessions (id) {
        id -> Text,
        counter_id -> Text,
        staff_id -> Text,
        opened_at_ms -> BigInt,
        terminal_id -> Text,
        last_used_at_ms -> BigInt,
        closed_at_ms -> Nullable<BigInt>,
        receipt_ref -> Text,
    }
}

diesel::table! {
    submissions (session_id, idempotency_key) {
        session_id -> Text,
        idempotency_key -> Text,
        request_sha256 -> Text,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    applications (id) {
        id -> Text,
        session_id -> Text,
        idempotency_key -> Text,
        position -> Integer,
        procedure_id -> Text,
        target_system -> Text,
        payload -> Text,
        status -> Text,
        created_at_ms -> BigInt,
        updated_at_ms -> BigInt,
        pattern -> Integer,
        fields_total -> Integer,
        fields_prefilled -> Integer,
    }
}

diesel::table! {
    work_items (id) {
        id -> Text,
        application_id -> Text,
        session_id -> Text,
        procedure_id -> Text,
        department -> Text,
        state -> Text,
        claimed_by -> Nullable<Text>,
        note -> Nullable<Text>,
        return_reason -> Nullable<Text>,
        created_at_ms -> BigInt,
        updated_at_ms -> BigInt,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        application_id -> Text,
        target_system -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at_ms -> BigInt,
        lease_until_ms -> Nullable<BigInt>,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        receipt -> Nullable<Text>,
        created_at_ms -> BigInt,
        updated_at_ms -> BigInt,
        traceparent -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at_ms -> BigInt,
        session_id -> Nullable<Text>,
        staff_id -> Nullable<Text>,
        action -> Text,
        subject -> Nullable<Text>,
        detail -> Nullable<Text>,
        seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_checkpoints (seq) {
        seq -> BigInt,
        hash -> Text,
        at_ms -> BigInt,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    audit_segments (first_seq) {
        first_seq -> BigInt,
        last_seq -> BigInt,
        last_hash -> Text,
        entries -> BigInt,
        file -> Text,
        sha256 -> Text,
        archived_at_ms -> BigInt,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    feed_changes (seq) {
        seq -> BigInt,
        reason -> Text,
        change_date -> Text,
        resident -> Text,
        received_at_ms -> BigInt,
    }
}

diesel::table! {
    feed_cursors (name) {
        name -> Text,
        position -> BigInt,
        pending_to -> Nullable<BigInt>,
        leased_by -> Nullable<Text>,
        lease_until_ms -> BigInt,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        updated_at_ms -> BigInt,
    }
}

diesel::table! {
    feed_quarantine (subscriber, seq) {
        subscriber -> Text,
        seq -> BigInt,
        error -> Text,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    visits (session_id) {
        session_id -> Text,
        state -> Text,
        updated_at_ms -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        display_name -> Text,
        password_hash -> Text,
        groups -> Text,
        disabled -> Bool,
        failed_logins -> Integer,
        locked_until_ms -> Nullable<BigInt>,
        created_at_ms -> BigInt,
        updated_at_ms -> BigInt,
    }
}

diesel::table! {
    logins (id) {
        id -> Text,
        user_id -> Text,
        refresh_sha256 -> Text,
        created_at_ms -> BigInt,
        expires_at_ms -> BigInt,
        ended_at_ms -> Nullable<BigInt>,
    }
}

diesel::joinable!(logins -> users (user_id));
diesel::joinable!(applications -> sessions (session_id));
diesel::joinable!(visits -> sessions (session_id));
diesel::joinable!(deliveries -> applications (application_id));
diesel::joinable!(work_items -> applications (application_id));
diesel::allow_tables_to_appear_in_same_query!(
    sessions,
    visits,
    submissions,
    applications,
    deliveries,
    audit_log,
    work_items
);
