module apisix-ext-plugin/bench/go-echo

go 1.21
