-- Compliance: retention policies, exports and the bookkeeping that makes
-- sweeps and wipes resumable and audited exactly once.
--
-- Convention for every table that holds personal data: name the person's
-- JID in a column called chat_jid, sender_jid or subject_jid. Wipe and export
-- find such tables by those names (information_schema), so a new table
-- following the convention is wiped and exported without code changes.

-- A chat's retention, overriding BOT_RETENTION for its rows.
CREATE TABLE retention_policies (
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    days       integer     NOT NULL CHECK (days BETWEEN 1 AND 36500),
    set_by     text        NOT NULL DEFAULT '',  -- hashed identity
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, chat_jid)
);

-- A data export being built or ready: its files, then the ZIP of them.
CREATE TABLE exports (
    id          text        PRIMARY KEY,
    subject_jid text        NOT NULL,
    zip         bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX exports_expires_at_idx ON exports (expires_at);
CREATE INDEX exports_subject_idx ON exports (subject_jid);

CREATE TABLE export_files (
    export_id text  NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    name      text  NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (export_id, name)
);

-- Rows deleted per table by one sweep or wipe run, written in the same
-- transaction as the delete, so counts add up across crashes and retries.
CREATE TABLE compliance_counts (
    run_id  text   NOT NULL,
    tbl     text   NOT NULL,
    deleted bigint NOT NULL DEFAULT 0 CHECK (deleted >= 0),
    PRIMARY KEY (run_id, tbl)
);

-- Runs whose audit entry is written (at most once per run).
CREATE TABLE compliance_audited (
    run_id     text        PRIMARY KEY,
    audit_seq  bigint      NOT NULL,
    audited_at timestamptz NOT NULL DEFAULT now()
);
