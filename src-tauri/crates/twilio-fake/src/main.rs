//! `twilio-fake`: the fake Twilio as a process, for benchmarks and manual runs. Prints its base URL
//! on the first line of stdout and serves until stopped.

#[tokio::main]
async fn main() {
    let fake = clinicdesk_twilio_fake::FakeTwilio::start().await;
    println!("{}", fake.url());
    let _ = tokio::signal::ctrl_c().await;
}
