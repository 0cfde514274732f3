-- Memory the user controls: a chat's running summary of the conversation
-- before its memory window, facts pinned with /remember, and /todo items.
-- Every table names the chat in chat_jid (and who added a row in
-- sender_jid), so /wipe and /export cover them (migration 00005).

-- The running summary: memory rows up to through_id folded by the LLM into
-- one text, carried forward by the next fold. It is as old as the newest
-- turn it covers (created_at) and expires with it.
CREATE TABLE memory_summaries (
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    summary    text        NOT NULL,
    tokens     integer     NOT NULL CHECK (tokens >= 0),
    through_id bigint      NOT NULL,
    folds      integer     NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (account, chat_jid)
);
CREATE INDEX memory_summaries_expires_at_idx ON memory_summaries (expires_at);

-- Facts pinned into every prompt of a chat (/remember). message_id is the
-- command's message: a retried command pins its fact once.
CREATE TABLE pinned_facts (
    id         bigserial   PRIMARY KEY,
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    sender_jid text        NOT NULL,
    message_id text        NOT NULL,
    fact       text        NOT NULL,
    tokens     integer     NOT NULL CHECK (tokens >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account, chat_jid, message_id)
);
CREATE INDEX pinned_facts_chat_idx ON pinned_facts (account, chat_jid, id);

-- A chat's to-do list (/todo). message_id as above.
CREATE TABLE todos (
    id         bigserial   PRIMARY KEY,
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    sender_jid text        NOT NULL,
    message_id text        NOT NULL,
    item       text        NOT NULL,
    done_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account, chat_jid, message_id)
);
CREATE INDEX todos_chat_idx ON todos (account, chat_jid, id);

-- What a state-changing command did, by its message: a retried command
-- (RunCommand after a crash) finds it here and changes nothing twice.
CREATE TABLE command_effects (
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    message_id text        NOT NULL,
    effect     jsonb       NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (account, chat_jid, message_id)
);
CREATE INDEX command_effects_expires_at_idx ON command_effects (expires_at);
