DROP TABLE document_chunks;
DROP TABLE blobs;
