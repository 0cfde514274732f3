DROP TABLE command_effects;
DROP TABLE todos;
DROP TABLE pinned_facts;
DROP TABLE memory_summaries;
