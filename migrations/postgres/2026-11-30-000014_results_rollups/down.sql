DROP TABLE result_counts;
