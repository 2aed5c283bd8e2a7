"""CRANE monitor-config. In this release it joins the suite, consumes its subjects and logs them;
its real work arrives with the monitoring and autoscaling issue."""
