import ConsoleKitTerminal
import Foundation

/// A progress bar (ConsoleKitTerminal) shown only when stdout is a terminal; silent in scripts and pipes.
final class TerminalProgress: Sendable {
    private let bar: ActivityIndicator<ProgressBar>?

    init(title: String) {
        bar = isatty(STDOUT_FILENO) == 1 ? Terminal().progressBar(title: title) : nil
        bar?.start(refreshRate: 100)
    }

    func update(_ fraction: Double) { bar?.activity.currentProgress = min(max(fraction, 0), 1) }

    func finish() {
        guard let bar else { return }
        bar.activity.currentProgress = 1
        bar.succeed()
    }
}
