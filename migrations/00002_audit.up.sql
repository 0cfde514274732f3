-- The audit log: append-only, hash-chained. Each entry stores the hash of the
-- previous one (genesis: 64 zeros), so editing or deleting any row breaks the
-- chain at that row. The database itself refuses UPDATE, DELETE and TRUNCATE;
-- only someone able to disable triggers can change history, and Verify then
-- names the first broken entry. Identities are keyed hashes, never numbers,
-- and entries never hold message text.
CREATE TABLE audit_log (
    seq       bigint      PRIMARY KEY CHECK (seq > 0),
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    action    text        NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]*$'),
    target    text        NOT NULL DEFAULT '',
    outcome   text        NOT NULL,
    details   jsonb       NOT NULL DEFAULT '{}',
    prev_hash text        NOT NULL CHECK (length(prev_hash) = 64),
    hash      text        NOT NULL UNIQUE CHECK (length(hash) = 64)
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, seq);
CREATE INDEX audit_log_target_idx ON audit_log (target, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
