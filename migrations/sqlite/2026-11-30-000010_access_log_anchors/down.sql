DROP TABLE access_log_anchors;
