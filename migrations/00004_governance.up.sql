-- Governance: roles granted from chat or the CLI, the allow- and deny-lists of
-- numbers, and the non-secret runtime settings that every worker reads on
-- each message. Owners come from configuration (BOT_OWNERS) and are never
-- stored here. Identities are keyed hashes (member); label is a masked
-- number ("+49…5678") so a list is readable without holding the number.
CREATE TABLE roles (
    member     text        PRIMARY KEY CHECK (member <> ''),
    role       text        NOT NULL CHECK (role IN ('admin', 'operator')),
    label      text        NOT NULL DEFAULT '',
    granted_by text        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE number_lists (
    list     text        NOT NULL CHECK (list IN ('allow', 'deny')),
    member   text        NOT NULL CHECK (member <> ''),
    label    text        NOT NULL DEFAULT '',
    added_by text        NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list, member)
);

-- value is the setting's canonical text form; the Go registry types and
-- validates it. Keys are lower-case words joined by '.' or '_'.
CREATE TABLE settings (
    key        text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]*$'),
    value      text        NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
