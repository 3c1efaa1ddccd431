"""LocalStack Lambda runtime executor that runs python3.x handlers as local processes."""
