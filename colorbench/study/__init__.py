"""The human study (paper §4.4, supplement E): a web page that records real hints, TPI, QS, CS and rankings.

`colorbench study serve` runs it (app routes requests to handlers, which check payloads and use backend and db,
whose tables are in schema; each participant's plan from design), `colorbench study report` renders Tables 2
and 6 (report).
"""
