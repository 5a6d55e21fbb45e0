module github.com/interloan/interloan/services/requests

go 1.26.0
