package com.bgupload;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test driver for tests/jni_harness.rs: loads the native library given as
 * the first argument, then runs one command per line of standard input
 * ("name\targ\targ", "<null>" for a Java null) and prints, one line each:
 *
 *   RESULT\tnull                 the call succeeded
 *   RESULT\terror\t<message>     the call returned an error message
 *   EVENT\t<listener>\t<json>    a listener received an event
 *   ACKED\t<eventId>\t<result>   a listener acknowledged inside its callback
 *   LISTING\t<json>              what getUploads answered (then RESULT\tnull)
 *
 * Listener names choose the behaviour: "ack*" acknowledges every event with
 * an eventId from inside the callback, "throw*" throws after printing, any
 * other name prints.
 */
public final class Harness {
    private static final PrintStream OUT =
            new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    private static final Pattern EVENT_ID = Pattern.compile("\"eventId\":\"(\\d+)\"");
    private static final String NULL = "<null>";

    private Harness() {}

    private static void print(String line) {
        synchronized (OUT) {
            OUT.println(line);
        }
    }

    private static final class Printer implements EventListener {
        private final String name;

        Printer(String name) {
            this.name = name;
        }

        @Override
        public void onEvent(String json) {
            print("EVENT\t" + name + "\t" + json);
            if (name.startsWith("ack")) {
                Matcher matcher = EVENT_ID.matcher(json);
                if (matcher.find()) {
                    String result = Native.acknowledgeEvent(matcher.group(1));
                    print("ACKED\t" + matcher.group(1) + "\t" + (result == null ? "null" : result));
                }
            }
            if (name.startsWith("throw")) {
                throw new IllegalStateException("listener " + name + " fails on purpose");
            }
        }
    }

    private static String arg(String[] parts, int index) {
        if (index >= parts.length || NULL.equals(parts[index])) {
            return null;
        }
        return parts[index];
    }

    private static EventListener listener(String name) {
        return name == null ? null : new Printer(name);
    }

    public static void main(String[] args) throws IOException {
        System.load(args[0]);
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split("\t", -1);
            String result;
            switch (parts[0]) {
                case "initAndroid" -> result = Native.initAndroid(parts.length > 1 && NULL.equals(parts[1]) ? null : new Object());
                case "open" -> result = Native.open(arg(parts, 1), arg(parts, 2));
                case "init" -> result = Native.init(arg(parts, 2), listener(arg(parts, 1)));
                case "startUpload" -> result = Native.startUpload(arg(parts, 1));
                case "removeUpload" -> result = Native.removeUpload(arg(parts, 1));
                case "acknowledgeEvent" -> result = Native.acknowledgeEvent(arg(parts, 1));
                case "destroy" -> result = Native.destroy();
                case "setNetworkReachable" ->
                        result = Native.setNetworkReachable(Boolean.parseBoolean(arg(parts, 1)));
                case "setNetwork" -> result = Native.setNetwork(
                        Boolean.parseBoolean(arg(parts, 1)), Boolean.parseBoolean(arg(parts, 2)));
                case "pauseUpload" -> result = Native.pauseUpload(arg(parts, 1));
                case "resumeUpload" -> result = Native.resumeUpload(arg(parts, 1));
                case "updateHeaders" -> result = Native.updateHeaders(arg(parts, 1), arg(parts, 2));
                case "getUploads" -> {
                    print("LISTING\t" + Native.getUploads());
                    result = null;
                }
                case "close" -> result = Native.close();
                case "exit" -> {
                    print("BYE");
                    return;
                }
                default -> result = "unknown harness command " + parts[0];
            }
            print(result == null
                    ? "RESULT\tnull"
                    : "RESULT\terror\t" + result.replace('\n', ' ').replace('\t', ' '));
        }
    }
}
