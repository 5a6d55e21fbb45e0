module github.com/interloan/interloan/platform

go 1.26.0
