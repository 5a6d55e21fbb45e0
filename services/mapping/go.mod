module github.com/interloan/interloan/services/mapping

go 1.26.0
