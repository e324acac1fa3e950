#!/bin/sh
# The system programs the test suite runs for real (README's test command and
# .ci/run both call this). Installs the missing Debian packages when run as root
# (or with password-less sudo); otherwise names exactly what to install and fails,
# so a test never dies later on a missing program.
#
#   program                     package                  used by
#   chromium                    chromium                 tests/integration/test_serve.py
#   prometheus                  prometheus               Prometheus scrape/query tests
#   prometheus-node-exporter    prometheus-node-exporter Prometheus query tests
#   prometheus-alertmanager     prometheus-alertmanager  alerting tests
#   ibsim, opensm, ibnetdiscover, perfquery
#                               ibsim-utils opensm infiniband-diags  InfiniBand fabric tests
#   slurmctld, slurmd, squeue   slurm-wlm                Slurm tests
#   munged                      munge                    Slurm tests
#   lldpd, lldpcli              lldpd                    LLDP tests
#   ip                          iproute2                 network namespaces (LLDP)
#   tmux                        tmux                     terminal tests
#   python3 -m venv             python3-venv             README's test command itself
set -eu

# "program:package" pairs; a package is installed when its program is missing.
NEEDS="chromium:chromium
prometheus:prometheus
prometheus-node-exporter:prometheus-node-exporter
prometheus-alertmanager:prometheus-alertmanager
ibsim:ibsim-utils
opensm:opensm
ibnetdiscover:infiniband-diags
perfquery:infiniband-diags
slurmctld:slurm-wlm
slurmd:slurm-wlm
squeue:slurm-wlm
munged:munge
lldpd:lldpd
ip:iproute2
tmux:tmux"

missing=""
for pair in $NEEDS; do
  program=${pair%%:*}
  package=${pair#*:}
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$program" >/dev/null 2>&1; then
    case " $missing " in *" $package "*) ;; *) missing="$missing $package" ;; esac
  fi
done
# README's test command makes a virtual environment: Debian keeps ensurepip apart.
python3 -c "import ensurepip" >/dev/null 2>&1 || missing="$missing python3-venv"
missing=${missing# }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "tests/system-deps.sh: the tests need these Debian packages: $missing" >&2
  echo "install them as root, then run the tests again:" >&2
  echo "  apt-get install -y --no-install-recommends $missing" >&2
  exit 1
fi
echo "tests/system-deps.sh: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Daemons are started by the tests themselves, never by the package scripts.
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
