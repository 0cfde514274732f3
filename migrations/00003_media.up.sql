-- Media: a blob store for downloaded and generated media (workflows pass blob
-- keys, never bytes) and the extracted text of documents, in chunks indexed
-- for full-text search (/askfile). Both carry the message's expiry so
-- retention deletes them with the message.

CREATE TABLE blobs (
    key        text        PRIMARY KEY CHECK (key <> ''),
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    mime       text        NOT NULL DEFAULT 'application/octet-stream',
    size       bigint      NOT NULL CHECK (size >= 0),
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX blobs_expires_at_idx ON blobs (expires_at);
CREATE INDEX blobs_chat_idx ON blobs (account, chat_jid);

-- One row per chunk of a document's text. message_id is the document's
-- WhatsApp message ID, so a reply to the document finds its chunks.
CREATE TABLE document_chunks (
    id         bigserial   PRIMARY KEY,
    account    text        NOT NULL,
    chat_jid   text        NOT NULL,
    message_id text        NOT NULL CHECK (message_id <> ''),
    file_name  text        NOT NULL DEFAULT '',
    seq        integer     NOT NULL CHECK (seq >= 0),
    content    text        NOT NULL,
    tsv        tsvector    GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    UNIQUE (account, message_id, seq)
);
CREATE INDEX document_chunks_tsv_idx ON document_chunks USING GIN (tsv);
CREATE INDEX document_chunks_chat_idx ON document_chunks (account, chat_jid, id DESC);
CREATE INDEX document_chunks_expires_at_idx ON document_chunks (expires_at);
