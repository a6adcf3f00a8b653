ALTER DATABASE hl_f01 SET default_transaction_isolation = 'serializable';
