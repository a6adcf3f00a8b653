SELECT count(*) wrong FROM t WHERE pad_up IS DISTINCT FROM upper(pad)
