#!/bin/sh
# settings_documented.sh MAILERD - every setting `mailerd help` lists must
# appear in README.md's settings table, so the docs cannot fall behind the
# settings table in src/config/settings.c.
set -eu
bin=$1
readme=$(dirname "$0")/../../README.md
missing=0
for key in $("$bin" help | sed -n '/^Settings/,$p' | tail -n +3 | awk '{print $1}'); do
	if ! grep -q "^|.*\`$key\`" "$readme"; then
		echo "README.md: setting '$key' is not in the settings table"
		missing=$((missing + 1))
	fi
done
count=$("$bin" help | sed -n '/^Settings/,$p' | tail -n +3 | wc -l)
[ "$count" -gt 30 ] || { echo "only $count settings listed by help (want > 30)"; exit 1; }
echo "$count settings, $missing missing from README.md"
[ "$missing" -eq 0 ]
