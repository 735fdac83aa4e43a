// Being written (issue 10).
