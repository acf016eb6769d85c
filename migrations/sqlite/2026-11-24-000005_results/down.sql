DROP TABLE budget_executions;
DROP TABLE budgets;
DROP TABLE report_settings;
DROP TABLE indicator_actuals;
DROP TABLE indicator_targets;
DROP TABLE indicators;
