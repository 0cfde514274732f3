DROP TABLE outbound;
DROP TABLE usage;
DROP TABLE memory;
DROP TABLE messages;
DROP TABLE chats;
