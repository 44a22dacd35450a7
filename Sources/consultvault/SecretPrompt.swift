#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a secret from the terminal without echo (termios), for passphrases and codes typed by a person.
/// Terminal I/O, so it lives in the CLI (`Secrets.read` tries the environment variable first).
enum SecretPrompt {
    /// Prompts on stderr and reads one line from stdin with echo off; nil at end of input.
    static func read(_ prompt: String) -> String? {
        FileHandleWriter.stderr(prompt)
        var old = termios()
        let isTTY = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &old) == 0
        if isTTY {
            var noEcho = old
            noEcho.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &noEcho)
        }
        defer {
            if isTTY {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &old)
                FileHandleWriter.stderr("\n")
            }
        }
        return readLine(strippingNewline: true)
    }
}

enum FileHandleWriter {
    static func stderr(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
