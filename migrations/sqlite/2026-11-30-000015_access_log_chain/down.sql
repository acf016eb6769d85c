DROP TABLE access_log_chainer;
DROP TABLE access_log_pending;
