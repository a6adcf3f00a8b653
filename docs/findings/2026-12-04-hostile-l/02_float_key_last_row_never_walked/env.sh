export PGOPTIONS='-c extra_float_digits=0'
