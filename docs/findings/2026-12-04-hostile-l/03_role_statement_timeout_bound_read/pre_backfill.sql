ALTER DATABASE hl_e09 SET statement_timeout = '25ms';
