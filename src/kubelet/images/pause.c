/*
 * Skiff's pod sandbox process: PID 1 of every pod, holding the pod's namespaces while the
 * app containers come and go. It sleeps, reaps the orphans that get re-parented to it,
 * and exits 0 on SIGINT or SIGTERM (PID 1 ignores signals it has no handler for).
 * Built statically (gcc -static) by src/kubelet/images/pause.ts.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
	(void)sig;
	_exit(0);
}

static void on_child(int sig) {
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		static const char version[] = "skiff-pause 3.10\n";
		return write(1, version, sizeof version - 1) < 0;
	}
	struct sigaction stop = {0}, child = {0};
	stop.sa_handler = on_stop;
	child.sa_handler = on_child;
	child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
	    sigaction(SIGCHLD, &child, NULL) < 0)
		return 1;
	for (;;)
		pause();
}
