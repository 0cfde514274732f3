DROP TABLE settings;
DROP TABLE number_lists;
DROP TABLE roles;
