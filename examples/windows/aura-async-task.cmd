@echo off
rem Create a daily Windows Task Scheduler task that runs aura-async for every frame.
rem
rem Run this file once, as the user whose photos and config it is (no admin rights needed):
rem     examples\windows\aura-async-task.cmd
rem The config is the default %USERPROFILE%\etc\aura\credentials.ini.
rem
rem AURA_EXE: where the recommended install (`pipx install .`, see the README's
rem "Install") puts aura-async.exe: %USERPROFILE%\.local\bin. Installed elsewhere,
rem `where aura-async` prints it.
rem LOG: every log line is appended to it (--log-file creates its folder).
rem
rem --quiet keeps the console silent unless something failed; the Task Scheduler does not
rem keep console output, so the log file is where to look. The task's "Last Run Result"
rem column shows the exit code: 0x0 ok, 0x1 some files failed (named in the log; the next
rem run tries them again), 0x2 config error, 0x3 login failed, 0x4 frame not found, 0x5 Aura
rem kept throttling, 0x6 another run still held a folder's lock (harmless: that run does
rem the work), 0x82 (130) interrupted.
rem
rem The task runs only while you are logged on, in a console window that closes when the run
rem ends. To run it logged off, add  /RU %USERNAME% /RP  (it asks for your password).
rem schtasks cannot say "run as soon as possible after a missed start" (systemd's
rem Persistent=true): tick that box in the task's Settings tab, or create the task with
rem PowerShell's New-ScheduledTaskSettingsSet -StartWhenAvailable.

setlocal
set "AURA_EXE=%USERPROFILE%\.local\bin\aura-async.exe"
set "LOG=%USERPROFILE%\aura\nightly.log"
if not exist "%USERPROFILE%\aura" mkdir "%USERPROFILE%\aura"

rem /SC DAILY /ST 03:00: every day at 03:00. /F replaces a task of the same name.
rem Inside /TR, the inner quotes are written \" so that paths with spaces survive.
schtasks /Create /F /TN "aura-async nightly" /SC DAILY /ST 03:00 /TR "\"%AURA_EXE%\" --all --quiet --log-file \"%LOG%\""

rem Try it now:   schtasks /Run /TN "aura-async nightly"
rem Remove it:    schtasks /Delete /TN "aura-async nightly" /F
endlocal
