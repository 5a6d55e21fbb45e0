module github.com/interloan/interloan/services/harvester

go 1.26.0
