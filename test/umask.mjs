// Loaded into every test process: files the tests create are private (0600), as secret files must be.
process.umask(0o077)
