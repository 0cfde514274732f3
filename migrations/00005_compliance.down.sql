DROP TABLE compliance_audited;
DROP TABLE compliance_counts;
DROP TABLE export_files;
DROP TABLE exports;
DROP TABLE retention_policies;
