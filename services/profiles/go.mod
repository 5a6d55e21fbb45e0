module github.com/interloan/interloan/services/profiles

go 1.26.0
