VACUUM FULL orders;
