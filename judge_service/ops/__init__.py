"""What an operator watches: log lines, and (with `/metrics`) the service's figures."""
