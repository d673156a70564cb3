"""refserver: the reference ingest server (RTSP pull, RTMP/RTMPS push, HLS out)."""
