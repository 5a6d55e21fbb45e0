module github.com/interloan/interloan/services/gateway

go 1.26.0
