module github.com/interloan/interloan

go 1.26.0
