-- The first schema: chats, messages with expiry, conversation memory, usage
-- and the outbound ledger that makes Send idempotent.
-- account is the bot's own WhatsApp account id (one process may serve several).

CREATE TABLE chats (
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('dm', 'group')),
    settings   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, chat_jid)
);

-- Every message the bot received or sent, kept until expires_at (retention).
-- kind is open-ended (text, voice, image, document, command, ...) so a new
-- kind needs no migration; the check only refuses empty or odd spellings.
CREATE TABLE messages (
    id         bigserial   PRIMARY KEY,
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    message_id text        NOT NULL CHECK (message_id <> ''),
    role       text        NOT NULL CHECK (role IN ('user', 'assistant')),
    sender_jid text        NOT NULL DEFAULT '',
    kind       text        NOT NULL CHECK (kind ~ '^[a-z][a-z_]*$'),
    body       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    UNIQUE (account, message_id, role)
);
CREATE INDEX messages_expires_at_idx ON messages (expires_at);
CREATE INDEX messages_chat_idx ON messages (account, chat_jid, id);

-- Conversation memory fed back to the LLM, newest first within a token budget.
CREATE TABLE memory (
    id         bigserial   PRIMARY KEY,
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    message_id text        NOT NULL CHECK (message_id <> ''),
    role       text        NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content    text        NOT NULL,
    tokens     integer     NOT NULL CHECK (tokens >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    UNIQUE (account, chat_jid, message_id, role)
);
CREATE INDEX memory_chat_idx ON memory (account, chat_jid, id DESC);
CREATE INDEX memory_expires_at_idx ON memory (expires_at);

-- LLM token usage per message and model. expires_at NULL keeps the row until
-- a retention policy says otherwise.
CREATE TABLE usage (
    id                bigserial   PRIMARY KEY,
    account           text        NOT NULL,
    chat_jid          text        NOT NULL,
    sender_jid        text        NOT NULL DEFAULT '',
    message_id        text        NOT NULL CHECK (message_id <> ''),
    model             text        NOT NULL CHECK (model <> ''),
    prompt_tokens     integer     NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens integer     NOT NULL CHECK (completion_tokens >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    UNIQUE (account, message_id, model)
);
CREATE INDEX usage_expires_at_idx ON usage (expires_at);

-- Replies already delivered: Send checks and records here, so a retried
-- activity never sends the same reply twice.
CREATE TABLE outbound (
    account  text        NOT NULL,
    reply_id text        NOT NULL,
    chat_jid text        NOT NULL,
    sent_at  timestamptz NOT NULL,
    PRIMARY KEY (account, reply_id)
);
CREATE INDEX outbound_sent_at_idx ON outbound (sent_at);
